# Runs moto's server for one test file: on a loopback port the OS picks (printed as "port N"), until stdin closes,
# so it ends with the test process that started it.
#
# Four changes bring moto 5.2 in line with what the AWS API references document, and with AWS itself. In KMS:
# - Sign and Verify with MessageType DIGEST sign the digest given instead of hashing it again (moto ignores
#   MessageType; getmoto/moto#10202 is the upstream fix, not released at 5.2.5);
# - RSASSA_PSS_* use a salt as long as the digest ("RSASSA-PSS ... with a 256-bit salt" for SHA-256), where moto uses
#   the longest salt that fits;
# - a disabled key, or one pending deletion, refuses Sign, Verify, GenerateMac, VerifyMac and Encrypt
#   (DisabledException, KMSInvalidStateException), where moto uses it anyway.
# In CloudHSM v2, timestamps (CreateTimestamp of clusters and backups) are epoch seconds, as the AWS JSON protocol has
# them, where moto writes ISO 8601 strings that the SDK cannot read.
# Nothing else is changed: keys, tags, aliases, deletion schedules and the CloudHSMv2 API are moto's own.

import json
import sys
from datetime import datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec, padding, utils
from moto.cloudhsmv2 import responses as cloudhsm_responses
from moto.core.exceptions import JsonRESTError
from moto.core.utils import unix_time
from moto.kms import models, responses
from moto.kms import utils as kms_utils
from moto.kms.exceptions import ValidationException
from moto.moto_server.threaded_moto_server import ThreadedMotoServer


class Digest(bytes):
    """The Message of a Sign or Verify request sent with MessageType DIGEST."""


original_get_param = responses.KmsResponse._get_param


def get_param(self, name, if_none=None):
    value = original_get_param(self, name, if_none)
    if name == "Message" and original_get_param(self, "MessageType") == "DIGEST":
        return Digest(value)
    return value


def hash_for(message, hash_algorithm):
    if not isinstance(message, Digest):
        return hash_algorithm
    if len(message) != hash_algorithm.digest_size:
        raise ValidationException(f"Digest is invalid length for algorithm {hash_algorithm.name}")
    return utils.Prehashed(hash_algorithm)


def rsa_parameters(key, signing_algorithm):
    kms_utils.validate_signing_algorithm(signing_algorithm, kms_utils.SigningAlgorithm.rsa_signing_algorithms())
    pad, hash_algorithm = key._RSAPrivateKey__padding_and_hash_algorithm(signing_algorithm)
    if isinstance(pad, padding.PSS):
        pad = padding.PSS(mgf=padding.MGF1(hash_algorithm), salt_length=padding.PSS.DIGEST_LENGTH)
    return pad, hash_algorithm


def rsa_sign(self, message, signing_algorithm):
    pad, hash_algorithm = rsa_parameters(self, signing_algorithm)
    return self.private_key.sign(message, pad, hash_for(message, hash_algorithm))


def rsa_verify(self, message, signature, signing_algorithm):
    pad, hash_algorithm = rsa_parameters(self, signing_algorithm)
    try:
        self.private_key.public_key().verify(signature, message, pad, hash_for(message, hash_algorithm))
        return True
    except InvalidSignature:
        return False


def ecdsa_hash(key, signing_algorithm):
    kms_utils.validate_signing_algorithm(signing_algorithm, key.valid_signing_algorithms)
    return key._ECDSAPrivateKey__hash_algorithm(signing_algorithm)


def ecdsa_sign(self, message, signing_algorithm):
    return self.private_key.sign(message, ec.ECDSA(hash_for(message, ecdsa_hash(self, signing_algorithm))))


def ecdsa_verify(self, message, signature, signing_algorithm):
    try:
        algorithm = ec.ECDSA(hash_for(message, ecdsa_hash(self, signing_algorithm)))
        self.private_key.public_key().verify(signature, message, algorithm)
        return True
    except InvalidSignature:
        return False


class KeyStateError(JsonRESTError):
    code = 400


def enabled_only(method):
    def checked(self, *args, **kwargs):
        key = self.keys[self.any_id_to_key_id(kwargs["key_id"])]
        if key.key_state == "Disabled":
            raise KeyStateError("DisabledException", f"{key.arn} is disabled.")
        if key.key_state != "Enabled":
            raise KeyStateError("KMSInvalidStateException", f"{key.arn} is {key.key_state}.")
        return method(self, *args, **kwargs)

    return checked


for name in ("sign", "verify", "generate_mac", "encrypt"):
    setattr(models.KmsBackend, name, enabled_only(getattr(models.KmsBackend, name)))

def epoch_seconds(self, o):
    return unix_time(o) if isinstance(o, datetime) else json.JSONEncoder.default(self, o)


cloudhsm_responses.DateTimeEncoder.default = epoch_seconds
responses.KmsResponse._get_param = get_param
kms_utils.RSAPrivateKey.sign = rsa_sign
kms_utils.RSAPrivateKey.verify = rsa_verify
kms_utils.ECDSAPrivateKey.sign = ecdsa_sign
kms_utils.ECDSAPrivateKey.verify = ecdsa_verify

server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
print(f"port {server.get_host_and_port()[1]}", flush=True)
sys.stdin.read()
server.stop()
