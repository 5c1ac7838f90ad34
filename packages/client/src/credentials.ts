/**
 * The license key the client authenticates with on every new connection (kept in memory only),
 * and the license_hash of the last successful authentication.
 */
export class Credentials {
  /** Set by a successful authenticate() (or the licenseKey option); forgotten when the node refuses it. */
  key: string | undefined;
  hash: string | undefined;

  constructor(key: string | undefined) {
    this.key = key;
  }
}
