import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { azureConfig } from '../../../../src/backends/azure-keyvault/config.ts';
import { MisconfiguredError } from '../../../../src/backends/errors.ts';

const spec = (vaultUrl: string, vaultType?: 'KeyVault' | 'ManagedHSM') => ({
  vaultUrl,
  disableChallengeResourceVerification: false,
  ...(vaultType ? { vaultType } : {}),
});

describe('azureConfig', () => {
  it('takes the vault type from Azure host names', () => {
    assert.equal(azureConfig(spec('https://pay.managedhsm.azure.net')).vaultType, 'ManagedHSM');
    assert.equal(azureConfig(spec('https://pay.vault.usgovcloudapi.net/')).vaultType, 'KeyVault');
    assert.equal(azureConfig(spec('https://pay.vault.azure.net/')).vaultUrl, 'https://pay.vault.azure.net');
    assert.equal(azureConfig(spec('https://pay.vault.azure.net')).vaultName, 'pay');
  });

  it('needs vaultType for other hosts, and it must agree with an Azure host name', () => {
    assert.throws(() => azureConfig(spec('https://kv.internal.example')), MisconfiguredError);
    assert.equal(azureConfig(spec('https://kv.internal.example', 'ManagedHSM')).vaultType, 'ManagedHSM');
    assert.throws(
      () => azureConfig(spec('https://pay.vault.azure.net', 'ManagedHSM')),
      /is a KeyVault host name/,
    );
  });

  it('refuses a URL with a path', () => {
    assert.throws(() => azureConfig(spec('https://pay.vault.azure.net/keys/x')), MisconfiguredError);
  });
});
