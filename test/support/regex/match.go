// Go regexp (RE2) harness for test/support/regexEngines.ts: the engine the SSM Agent applies to
// a document parameter's allowedPattern before it runs a command.
//
// "find" mirrors the agent exactly: amazon-ssm-agent
// agent/framework/docparser/paramvalidator/allowedregexparamvalidator/allowedregexparamvalidator.go
// does `regexp.Compile(parameter.AllowedPattern)` and then `validParamValue.MatchString(input)`
// for each String value: a match anywhere in the value, so only the pattern's anchors bound it.
// "full" (the whole input must match, like Java's Matcher.matches()) compiles `\A(?:p)\z` after
// compiling p alone (so a bad pattern reports p's own error).
//
// Protocol (stdin, UTF-8): one request per line, MODE \t base64(pattern) \t base64(input).
// Reply (stdout): "1", "0" or "E \t base64(message)" per request, in order.
// Standard library only: no modules are downloaded.
package main

import (
	"bufio"
	"encoding/base64"
	"os"
	"regexp"
	"strings"
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func run(mode, pattern, input string) string {
	re, err := regexp.Compile(pattern)
	if err != nil {
		return "E\t" + b64(err.Error())
	}
	switch mode {
	case "find":
		if re.MatchString(input) {
			return "1"
		}
		return "0"
	case "full":
		full, err := regexp.Compile(`\A(?:` + pattern + `)\z`)
		if err != nil {
			return "E\t" + b64(err.Error())
		}
		if full.MatchString(input) {
			return "1"
		}
		return "0"
	}
	return "E\t" + b64("unknown mode "+mode)
}

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 0, 1<<20), 64<<20)
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	for in.Scan() {
		line := in.Text()
		if line == "" {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) != 3 {
			out.WriteString("E\t" + b64("malformed request line") + "\n")
			continue
		}
		p, err1 := base64.StdEncoding.DecodeString(f[1])
		s, err2 := base64.StdEncoding.DecodeString(f[2])
		if err1 != nil || err2 != nil {
			out.WriteString("E\t" + b64("malformed base64") + "\n")
			continue
		}
		out.WriteString(run(f[0], string(p), string(s)) + "\n")
	}
	if err := in.Err(); err != nil {
		os.Stderr.WriteString(err.Error() + "\n")
		os.Exit(2)
	}
}
