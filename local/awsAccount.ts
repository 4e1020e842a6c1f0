/** The one AWS account and region every local fake stands for. */

export const LOCAL_ACCOUNT_ID = "123456789012";
export const LOCAL_REGION = "us-east-1";

/** An EC2 instance's ARN in the local account (the resource of its events and of IAM's answers). */
export function instanceArn(instanceId: string): string {
    return `arn:aws:ec2:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:instance/${instanceId}`;
}

/** The role the provisioner Lambda's calls are made as, as IAM names it in an AccessDeniedException. */
export const PROVISIONER_ROLE_ARN = `arn:aws:sts::${LOCAL_ACCOUNT_ID}:assumed-role/provisioner`;
