/** What the wire layer serves: one handler per operation of each service, and who calls. */

export type ServiceName = "ssm" | "ec2" | "sqs" | "kms";

/** Who calls: the access key id of the request's signature (`Credential=<key>/...`), standing in for the caller's role. */
export interface CallContext {
    accessKeyId?: string;
}

/** An operation: the decoded input and, when served over HTTP, the CallContext (left loose so the SDK mocks' handlers fit too). */
export type OpHandler = (input: any, ctx?: any) => unknown | Promise<unknown>;

export type HandlerTable = Partial<Record<ServiceName, Record<string, OpHandler>>>;
