/**
 * The roles an API token can carry, lowest first: each includes everything the ones before it may do.
 *
 *   read-only  GET anything
 *   operator   read-only + day-to-day actions (queue and quarantine actions, sync, onward retry)
 *   admin      operator + configuration (domains, recipients, policies, edges, hubs, tokens, audit)
 */
export type Role = "read-only" | "operator" | "admin";
export const ROLES: readonly Role[] = ["read-only", "operator", "admin"];

export function isRole(value: unknown): value is Role {
  return typeof value === "string" && (ROLES as readonly string[]).includes(value);
}

/**
 * Whether a token with role `granted` may use a route that needs `needed`.
 *
 * @example
 * roleAllows("operator", "read-only") // true
 * roleAllows("operator", "admin") // false
 */
export function roleAllows(granted: Role, needed: Role): boolean {
  return ROLES.indexOf(granted) >= ROLES.indexOf(needed);
}
