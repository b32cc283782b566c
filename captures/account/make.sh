#!/bin/sh
# Makes the committed AWS CLI example files: starts moto_server (moto_server_valid_cert.py) on a
# free loopback port, runs moto-setup.sh against it, and saves what the AWS CLI prints for each
# call into one folder per scenario (see README.md). Needs the virtual environment
# ($IOTSCOPE_VENV, default ~/.cache/iotscope-venv) with moto[server] and awscli.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
venv=${IOTSCOPE_VENV:-$HOME/.cache/iotscope-venv}
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_PAGER=""
port=$("$venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
url="http://127.0.0.1:$port"
"$venv/bin/python" "$here/moto_server_valid_cert.py" -p "$port" > /dev/null 2>&1 &
moto=$!
trap 'kill $moto' EXIT
i=0
until curl -fs "$url/moto-api/" > /dev/null 2>&1; do
    i=$((i + 1)); [ $i -lt 100 ] || { echo "moto_server did not start" >&2; exit 1; }
    sleep 0.2
done
"$here/moto-setup.sh" "$url"

aws() { "$venv/bin/aws" --endpoint-url "$url" --output json "$@"; }
GOOD=d188057ddb67cdc13d4dba0ab3d179909b93de326c642998b7c3213faeffd7be
EXPIRED=1937917f5e53925c2c003a36ab2ab5e79e2b49f67891c70b490a0042f460f4c3
GOOD_ARN=arn:aws:iot:us-east-1:123456789012:cert/$GOOD

fresh() { rm -rf "${here:?}/$1"; mkdir -p "$here/$1"; }

# The TLS 1.3 refused certificate (expired), in three accounts.
fresh not-registered
aws --region eu-west-1 iot list-certificates > "$here/not-registered/list-certificates.json"
fresh inactive
aws --region us-east-1 iot describe-certificate --certificate-id "$EXPIRED" \
    > "$here/inactive/describe-certificate.json"
fresh revoked
aws --region us-west-2 iot describe-certificate --certificate-id "$EXPIRED" \
    > "$here/revoked/describe-certificate.json"

# good: ACTIVE, its policy, its thing, the account's endpoints.
fresh good
aws --region us-east-1 iot describe-certificate --certificate-id "$GOOD" \
    > "$here/good/describe-certificate.json"
aws --region us-east-1 iot list-attached-policies --target "$GOOD_ARN" \
    > "$here/good/list-attached-policies.json"
aws --region us-east-1 iot get-policy --policy-name lab-device-policy \
    > "$here/good/get-policy.json"
aws --region us-east-1 iot list-principal-things --principal "$GOOD_ARN" \
    > "$here/good/list-principal-things.json"
aws --region us-east-1 iot describe-thing --thing-name good > "$here/good/describe-thing.json"
aws --region us-east-1 iot describe-endpoint --endpoint-type iot:Data-ATS \
    > "$here/good/describe-endpoint.json"
aws --region us-east-1 iot list-domain-configurations \
    > "$here/good/list-domain-configurations.json"
aws --region us-east-1 iot describe-domain-configuration --domain-configuration-name lab-endpoint \
    > "$here/good/describe-domain-configuration.json"

# The same thing through list-principal-things-v2 (principalThingObjects, with the type of
# attachment), which newer scripts call instead.
fresh things-v2
aws --region us-east-1 iot list-principal-things-v2 --principal "$GOOD_ARN" \
    > "$here/things-v2/list-principal-things-v2.json"

# Another account's endpoint: the capture's SNI is neither its ATS endpoint nor a domain.
fresh other-endpoint
aws --region eu-west-1 iot describe-endpoint --endpoint-type iot:Data-ATS \
    > "$here/other-endpoint/describe-endpoint.json"

# The log group, as filter-log-events prints it and as one entry per line.
fresh logs
aws --region us-east-1 logs filter-log-events --log-group-name AWSIotLogsV2 \
    > "$here/logs/filter-log-events.json"
"$venv/bin/python" -c 'import json, sys; [print(e["message"]) for e in json.load(sys.stdin)["events"]]' \
    < "$here/logs/filter-log-events.json" > "$here/logs/AWSIotLogsV2.jsonl"
echo "example files written under $here"
