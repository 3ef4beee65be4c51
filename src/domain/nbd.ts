/** Limits of disk exports over NBD (api/nbd) and of the tokens that open them. */

/** Lifetime of an export token when the caller asks for none. */
export const NBD_TOKEN_DEFAULT_TTL_S = 300;
/** Longest lifetime a caller may ask for: tokens are meant to be short-lived. */
export const NBD_TOKEN_MAX_TTL_S = 3600;
/** Largest READ or WRITE payload a client may send (advertised as the maximum block size). */
export const NBD_MAX_PAYLOAD = 32 * 1024 * 1024;
/** Open NBD connections at once; more are refused at accept. */
export const NBD_MAX_CONNECTIONS = 64;
/** A connection that has not chosen an export by then is closed. */
export const NBD_HANDSHAKE_TIMEOUT_MS = 30_000;
