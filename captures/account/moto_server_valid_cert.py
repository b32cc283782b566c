"""Starts moto_server with AWS IoT certificate IDs computed as AWS computes them.

moto's `iot.use_valid_cert` setting makes a certificate's ID the SHA-256 of its DER (as AWS IoT
does) instead of moto's default, a hash of the PEM text. moto 5.2.6's POST /moto-api/config
accepts only the batch, lambda and stepfunctions keys and drops "iot", so the setting is made
here, in the server's own process, before it starts. Arguments are moto_server's (-p PORT).
"""

import sys

from moto.core.config import default_user_config

default_user_config["iot"]["use_valid_cert"] = True

from moto.server import main  # noqa: E402  (after the setting, on purpose)

main(sys.argv[1:])
