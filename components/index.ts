// The package entry: exports only. Importing it creates no resource.
