#!/bin/sh
# Sets up the lab account in a running moto_server: moto-setup.sh ENDPOINT_URL
#
# moto must compute certificate IDs as AWS does (SHA-256 of the DER): start it with
# moto_server_valid_cert.py, or a moto whose POST /moto-api/config honours "iot" (tried here
# too). The script stops if the IDs come out otherwise.
#
# Each region stands for one state of the account, since a certificate has one status per
# account and region:
#   us-east-1  the capture's region. good ACTIVE with the policy lab-device-policy (policy.json)
#              and the thing "good" attached; expired INACTIVE; unknownca ACTIVE with no policy;
#              the domain configuration lab-endpoint for abc123example-ats.iot.us-east-1.amazonaws.com
#              (the lab captures' SNI); the log group AWSIotLogsV2 (log-events.json).
#   us-west-2  expired REVOKED.
#   eu-west-1  good ACTIVE; expired not registered.
# Uses the AWS CLI from $IOTSCOPE_VENV (default ~/.cache/iotscope-venv) and dummy credentials.
set -eu
url=${1:?usage: moto-setup.sh ENDPOINT_URL}
here=$(cd "$(dirname "$0")" && pwd)
venv=${IOTSCOPE_VENV:-$HOME/.cache/iotscope-venv}
export AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-testing}
export AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-testing}
export AWS_PAGER=""
curl -fsS -X POST -H 'Content-Type: application/json' \
    -d '{"iot": {"use_valid_cert": true}}' "$url/moto-api/config" > /dev/null
aws() { "$venv/bin/aws" --endpoint-url "$url" --output json "$@"; }
GOOD=d188057ddb67cdc13d4dba0ab3d179909b93de326c642998b7c3213faeffd7be
EXPIRED=1937917f5e53925c2c003a36ab2ab5e79e2b49f67891c70b490a0042f460f4c3
UNKNOWNCA=7750f159ba3baf797e58441524aa15cd105b7f00fcd074c65c630ce8f8a76e0b

register() { # region name status expected-id
    id=$(aws --region "$1" iot register-certificate-without-ca \
        --certificate-pem "file://$here/certs/$2.pem" --status "$3" \
        --query certificateId --output text)
    if [ "$id" != "$4" ]; then
        echo "moto gave $2 the certificate ID $id, not the SHA-256 of its DER $4:" >&2
        echo "start moto with moto_server_valid_cert.py (iot.use_valid_cert)" >&2
        exit 1
    fi
}
arn() { echo "arn:aws:iot:$1:123456789012:cert/$2"; }

# us-east-1
register us-east-1 good ACTIVE "$GOOD"
register us-east-1 expired INACTIVE "$EXPIRED"
register us-east-1 unknownca ACTIVE "$UNKNOWNCA"
aws --region us-east-1 iot create-policy --policy-name lab-device-policy \
    --policy-document "file://$here/policy.json" > /dev/null
aws --region us-east-1 iot attach-policy --policy-name lab-device-policy \
    --target "$(arn us-east-1 "$GOOD")"
aws --region us-east-1 iot create-thing --thing-name good \
    --attribute-payload '{"attributes": {"site": "lab", "model": "sensor-1"}}' > /dev/null
aws --region us-east-1 iot attach-thing-principal --thing-name good \
    --principal "$(arn us-east-1 "$GOOD")"
aws --region us-east-1 iot create-domain-configuration \
    --domain-configuration-name lab-endpoint \
    --domain-name abc123example-ats.iot.us-east-1.amazonaws.com \
    --service-type DATA > /dev/null
aws --region us-east-1 logs create-log-group --log-group-name AWSIotLogsV2
aws --region us-east-1 logs create-log-stream --log-group-name AWSIotLogsV2 \
    --log-stream-name lab-broker
# CloudWatch Logs (and moto) refuse events older than 14 days: the entries carry the lab
# captures' times (2026-11-26), so from 2026-12-10 on they are refused, and said so here.
rejected=$(aws --region us-east-1 logs put-log-events --log-group-name AWSIotLogsV2 \
    --log-stream-name lab-broker --log-events "file://$here/log-events.json" \
    --query rejectedLogEventsInfo --output text)
if [ "$rejected" != "None" ]; then
    echo "warning: the log group refused some entries ($rejected): older than 14 days?" >&2
fi

# us-west-2
register us-west-2 expired ACTIVE "$EXPIRED"
aws --region us-west-2 iot update-certificate --certificate-id "$EXPIRED" --new-status REVOKED

# eu-west-1
register eu-west-1 good ACTIVE "$GOOD"
echo "lab account set up at $url"
