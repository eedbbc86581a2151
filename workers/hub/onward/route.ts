import { z } from "zod";
import { normaliseAddress } from "../../../shared/directory/address.ts";
import { edgeUrlProblem } from "../sync/edge-client.ts";
import { MAX_WEBHOOK_SECRET_CHARS, MAX_WEBHOOK_URL_CHARS, MIN_WEBHOOK_SECRET_CHARS } from "./limits.ts";

/**
 * Where an accepted domain's mail goes once it is stored. Every message is stored in the mailbox
 * (R2 + D1) whatever the route; `webhook` and `forward` add an onward step on top.
 */
export type Route = { type: "mailbox" } | { type: "webhook"; url: string; secret: string } | { type: "forward"; address: string };

/** A route as the admin API shows it: the webhook secret is write-only. */
export type PublicRoute = { type: "mailbox" } | { type: "webhook"; url: string; hasSecret: true } | { type: "forward"; address: string };

/** The onward step a route adds, or null for the mailbox alone. `key` tells distinct routes apart. */
export interface OnwardTarget {
  key: string;
  kind: "webhook" | "forward";
  target: string;
  secret: string | null;
}

/** A webhook URL this hub may post to: HTTPS, or plain HTTP to this machine (local stacks), without credentials. */
export const webhookUrlProblem = edgeUrlProblem;

const webhookUrl = z
  .string()
  .max(MAX_WEBHOOK_URL_CHARS)
  .superRefine((url, ctx) => {
    const problem = webhookUrlProblem(url);
    if (problem !== null) ctx.addIssue({ code: "custom", message: problem });
  });

/**
 * A route as an administrator writes it. The webhook secret may be left out when the domain
 * already has one: the stored secret is kept.
 */
export const routeInput = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("mailbox") }),
  z.strictObject({
    type: z.literal("webhook"),
    url: webhookUrl,
    secret: z
      .string()
      .min(MIN_WEBHOOK_SECRET_CHARS)
      .max(MAX_WEBHOOK_SECRET_CHARS)
      .regex(/^[\x21-\x7e]+$/, "printable ASCII without spaces")
      .optional(),
  }),
  z.strictObject({
    type: z.literal("forward"),
    address: z
      .string()
      .refine((a) => normaliseAddress(a) !== null, "must be an email address")
      .transform((a) => normaliseAddress(a)!),
  }),
]);
export type RouteInput = z.infer<typeof routeInput>;

/** The onward step of a route (null: the mailbox only). */
export function onwardTarget(route: Route): OnwardTarget | null {
  switch (route.type) {
    case "mailbox":
      return null;
    case "webhook":
      return { key: `webhook ${route.url}`, kind: "webhook", target: route.url, secret: route.secret };
    case "forward":
      return { key: `forward ${route.address}`, kind: "forward", target: route.address, secret: null };
  }
}

export function publicRoute(route: Route): PublicRoute {
  return route.type === "webhook" ? { type: "webhook", url: route.url, hasSecret: true } : route;
}

/**
 * Reads a route from its D1 columns (`domains.route`, `domains.route_secret`). A missing or
 * unreadable route is the mailbox: a damaged row must not send mail anywhere unexpected.
 */
export function routeFromColumns(json: string | null, secret: string | null): Route {
  if (json === null) return { type: "mailbox" };
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    return { type: "mailbox" };
  }
  const stored = routeInput.safeParse(parsed);
  if (!stored.success) return { type: "mailbox" };
  const r = stored.data;
  if (r.type === "webhook") return secret === null ? { type: "mailbox" } : { type: "webhook", url: r.url, secret };
  return r;
}

/** The D1 columns of a route: the JSON without the secret, and the secret apart. */
export function routeColumns(route: Route): { json: string | null; secret: string | null } {
  switch (route.type) {
    case "mailbox":
      return { json: null, secret: null };
    case "webhook":
      return { json: JSON.stringify({ type: "webhook", url: route.url }), secret: route.secret };
    case "forward":
      return { json: JSON.stringify(route), secret: null };
  }
}
