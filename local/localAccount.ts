import { LocalEventBus } from "./eventBus";
import { EndpointKnobs } from "./endpoint/types";
import { LocalSsmEndpoint } from "./ssmEndpoint";

/**
 * One AWS account and region for several local fleets: one event bus (EventBridge's default bus)
 * and one endpoint (SSM, EC2, SQS, Parameter Store). Each fleet keeps its own document, queues,
 * Lambda and IAM condition (its Lambda's access key stands for its role).
 */
export class LocalAccount {
    readonly bus = new LocalEventBus();
    readonly endpoint: LocalSsmEndpoint;
    private started?: Promise<string>;
    constructor(knobs: EndpointKnobs = {}) {
        this.endpoint = new LocalSsmEndpoint({ bus: this.bus, knobs: { requiredTagByAccessKey: {}, ...knobs } });
    }
    start(): Promise<string> {
        return (this.started ??= this.endpoint.start());
    }
    async stop(): Promise<void> {
        await this.endpoint.stop();
    }
}
