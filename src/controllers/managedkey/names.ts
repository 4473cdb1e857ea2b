// The names the ManagedKey controller and its deletion share, in a file of their own so that neither imports the
// other for them.
import { ManagedKey } from '../../api/v1alpha1/managedkey.ts';
import { resourceTypeOf } from '../../kube/resource.ts';

export const managedKeyType = resourceTypeOf(ManagedKey);
export const KEY_FINALIZER = 'keyward.io/key-lifecycle';

/**
 * Re-attaches a ManagedKey to the versions of the key whose identity this names (a uid), on purpose: a ManagedKey
 * re-created after a deletion with Retain, or one whose status was lost, names the uid its keys were made under.
 * Without it, versions found in the backend that status does not record are reported, never taken over.
 */
export const EXTERNAL_NAME_ANNOTATION = 'keyward.io/external-name';
