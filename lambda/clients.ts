/**
 * The AWS SDK clients the provisioner Lambda uses (SSM, SQS, EC2, KMS), built in one place.
 *
 * Credentials come from the environment (fromEnv: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
 * AWS_SESSION_TOKEN), which is where Lambda puts the execution role's credentials and where the
 * local fleet puts its dummy ones (local/ssmEndpoint.ts lambdaEnv()). The SDK's default chain
 * (SSO, ini files, process, web identity, container/IMDS, with STS and SSO clients of its own) is
 * never consulted, and scripts/bundle-lambda.js leaves it out of the bundle. Region and endpoint
 * overrides (AWS_REGION, AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_SSM/_EC2/_SQS) are read by the SDK
 * from process.env as usual.
 *
 * Every client makes one attempt per call (maxAttempts 1): the handler retries by itself
 * (lambda/retry.ts). `requestHandler`, when given, carries every request of all three clients
 * (tests and benches: an in-process fake instead of HTTP).
 */
import { DescribeInstancesCommand, EC2Client } from "@aws-sdk/client-ec2";
import { KMSClient, SignCommand } from "@aws-sdk/client-kms";
import { SQSClient } from "@aws-sdk/client-sqs";
import { SSMClient } from "@aws-sdk/client-ssm";
import { fromEnv } from "@aws-sdk/credential-provider-env";
import type { HttpHandlerOptions, HttpRequest, HttpResponse, RequestHandler } from "@smithy/types";

/** An SDK HTTP handler, or anything shaped like one: `handle(request, options?)` resolving to `{ response }`. */
export type SdkRequestHandler = RequestHandler<HttpRequest, HttpResponse, HttpHandlerOptions>;

export interface ClientOptions {
    /** Sends every request of the three clients (default: the SDK's Node HTTP handler). */
    requestHandler?: SdkRequestHandler;
}

export interface Clients {
    ssm: SSMClient;
    sqs: SQSClient;
    /** Created on first use: most batches never need EC2. */
    ec2: () => Promise<EC2Client>;
    /** Created on first use: only host certificates sign (kms:Sign). */
    kms: () => Promise<KMSClient>;
}

/** The EC2 client class and the one command the handler sends (ec2:DescribeInstances). */
export async function ec2Lib(): Promise<{
    EC2Client: typeof EC2Client;
    DescribeInstancesCommand: typeof DescribeInstancesCommand;
}> {
    return { EC2Client, DescribeInstancesCommand };
}

/** The KMS client class and the one command the handler sends (kms:Sign, host certificates). */
export async function kmsLib(): Promise<{ KMSClient: typeof KMSClient; SignCommand: typeof SignCommand }> {
    return { KMSClient, SignCommand };
}

/** The SSM, SQS and (lazily) EC2 and KMS clients for `env` (the handler's environment, process.env in Lambda). */
export function createClients(env: Record<string, string | undefined>, opts: ClientOptions = {}): Clients {
    const common = {
        maxAttempts: 1,
        credentials: fromEnv(),
        // The SDK's option type also admits handler options; an object with handle() is used as is.
        ...(opts.requestHandler ? { requestHandler: opts.requestHandler as unknown as Record<string, unknown> } : {}),
    };
    let ec2: EC2Client | undefined;
    let kms: KMSClient | undefined;
    return {
        ssm: new SSMClient(common),
        // With an endpoint override (AWS_ENDPOINT_URL_SQS: a local fleet), the SQS client would still send to the
        // QueueUrl's host by default; use the configured endpoint instead. On AWS both are the same.
        sqs: new SQSClient({ ...common, useQueueUrlAsEndpoint: !(env.AWS_ENDPOINT_URL_SQS || env.AWS_ENDPOINT_URL) }),
        ec2: async () => (ec2 ??= new EC2Client(common)),
        kms: async () => (kms ??= new KMSClient(common)),
    };
}
