/** OpenAPI security requirements, named once. */
type Requirement = Record<string, string[]>[];

/** Session-only operations: an access JWT. */
export const bearerOnly: Requirement = [{ bearerAuth: [] }];
/** An access JWT or an API key, as Bearer or X-API-Key. */
export const anyCredential: Requirement = [{ bearerAuth: [] }, { apiKeyHeader: [] }];
/** Explicitly public. */
export const publicAccess: Requirement = [];
/**
 * Admin operations: a JWT or key that carries the `admin` scope. Declared apart
 * so the spec shows admin routes need more than any other credential.
 */
export const adminCredential: Requirement = [{ bearerAuth: ["admin"] }, {
  apiKeyHeader: ["admin"],
}];
