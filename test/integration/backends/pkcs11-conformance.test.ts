// The backend conformance suite on a real SoftHSM2 token: PKCS#11 lacks nothing the suite asks for.
import { after } from 'node:test';
import { ALGORITHMS } from '../../../src/backends/algorithms.ts';
import { Pkcs11Backend } from '../../../src/backends/pkcs11/pkcs11-backend.ts';
import { SoftHsm } from '../../support/softhsm.ts';
import { describeConformance } from './conformance.ts';

const hsm = SoftHsm.create();
const token = hsm.initToken('conformance');
after(() => {
  hsm.cleanup();
});

describeConformance({
  name: 'SoftHSM2',
  open: () =>
    Pkcs11Backend.connect({ vendor: 'softhsm2', token: { label: token.label }, pin: Buffer.from(token.pin) }),
  algorithms: ALGORITHMS,
});
