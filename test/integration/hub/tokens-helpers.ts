import { env } from "cloudflare:workers";
import { expect } from "vitest";
import type { Role } from "../../../workers/hub/auth/roles.ts";
import { api } from "./helpers.ts";

export interface IssuedToken {
  id: string;
  token: string;
  role: Role;
}

/** Creates an API token through the API with the bootstrap token; fails the test unless it is created. */
export async function issueToken(role: Role, options: { name?: string; expiresAt?: string } = {}): Promise<IssuedToken> {
  const res = await api("/api/v1/tokens", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name: options.name ?? `${role} token`, role, ...(options.expiresAt === undefined ? {} : { expiresAt: options.expiresAt }) }),
  });
  expect(res.status, await res.clone().text()).toBe(201);
  const body = (await res.json()) as { id: string; token: string };
  return { id: body.id, token: body.token, role };
}

/** A token that was valid and has been revoked through the API. */
export async function revokedToken(): Promise<IssuedToken> {
  const issued = await issueToken("admin", { name: "revoked" });
  expect((await api(`/api/v1/tokens/${issued.id}`, { method: "DELETE" })).status).toBe(200);
  return issued;
}

/** A token whose expiry has passed (set in D1: the API only takes expiries in the future). */
export async function expiredToken(): Promise<IssuedToken> {
  const issued = await issueToken("admin", { name: "expired", expiresAt: new Date(Date.now() + 3_600_000).toISOString() });
  await env.DB.prepare("UPDATE api_tokens SET expires_at = ? WHERE id = ?")
    .bind(new Date(Date.now() - 1_000).toISOString(), issued.id)
    .run();
  return issued;
}

/** The hex SHA-256 of a string, as the hub stores a token. */
export async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}
