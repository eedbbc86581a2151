import { describe, expect, it } from "vitest";
import { spamProbability } from "../../../../../shared/hygiene/content/bayes.ts";
import { defaultModel } from "../../../../../shared/hygiene/content/model.ts";
import { messageTokens, scoreMessage } from "../../../../../shared/hygiene/content/score.ts";
import { parseMessage } from "../../../../../shared/hygiene/parse.ts";
import { CONTENT_MAX_TOKENS } from "../../../../../shared/limits.ts";
import { buildMessage, bytesOf, type MessageOptions } from "../../../../helpers/mail.ts";

async function emailOf(options: MessageOptions) {
  const parsed = await parseMessage(bytesOf(buildMessage(options)));
  if (!parsed.ok) throw new Error("test message did not parse");
  return parsed.email;
}

describe("scoreMessage", () => {
  const model = defaultModel();
  const letters = (n: number): string => (n < 26 ? "" : letters(Math.floor(n / 26) - 1)) + String.fromCharCode(97 + (n % 26));

  const cases: [string, MessageOptions][] = [
    ["a short reply", { subject: "Re: lunch", body: "Sounds good, see you at noon.\r\n" }],
    ["spam with links", { subject: "FREE MONEY!!!", body: "Click http://win.example/claim now!!! Limited offer, $1000 cash, 100% free\r\n" }],
    ["words repeated", { body: "offer offer offer free free money money money\r\n".repeat(50) }],
    ["more words than the token cap", { body: Array.from({ length: CONTENT_MAX_TOKENS + 500 }, (_, i) => `word${letters(i)}`).join(" ") }],
  ];

  it.each(cases)("gives %s the model's verdict on its distinct tokens", async (_, options) => {
    const email = await emailOf(options);
    const score = scoreMessage(email, model, { auth: null, now: Date.now() });
    expect(score.bayes).toEqual(spamProbability(model, messageTokens(email)));
  });
});
