/**
 * Hostile structure of every kind named in the hygiene requirements, built deterministically.
 * Runtime-agnostic: `npm run eval` times them in Node, the edge's tests run them through email().
 */
const enc = new TextEncoder();
const HEAD = "From: a@example.net\r\nTo: alice@example.com\r\nSubject: s\r\nMessage-ID: <r@example.net>\r\n";

/** Deterministic noise (xorshift), so every run feeds the same bytes. */
function noise(bytes: number, seed = 0x9e3779b9): Uint8Array {
  const out = new Uint8Array(bytes);
  let x = seed >>> 0;
  for (let i = 0; i < bytes; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

function nested(depth: number): string {
  let body = "innermost\r\n";
  for (let i = depth; i > 0; i--) body = `Content-Type: multipart/mixed; boundary="n${i}"\r\n\r\n--n${i}\r\n${body}\r\n--n${i}--\r\n`;
  return HEAD + body;
}

const SAMPLE = `${HEAD}MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="s"\r\n\r\n--s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nHello =C3=A9t=C3=A9\r\n--s\r\nContent-Type: application/zip; name="a.zip"\r\nContent-Transfer-Encoding: base64\r\n\r\n${"UEsDBBQAAAAIAA==".repeat(40)}\r\n--s--\r\n`;

/** Hostile structure of every kind named in the hygiene requirements. */
export function hostileInputs(): { name: string; raw: Uint8Array }[] {
  const cases: { name: string; raw: Uint8Array }[] = [
    { name: "header line of 3 MB", raw: enc.encode(`${HEAD}X-Long: ${"a".repeat(3 * 1024 * 1024)}\r\n\r\nbody`) },
    { name: "20,000 headers", raw: enc.encode(`${HEAD}${Array.from({ length: 20_000 }, (_, i) => `X-H${i}: v`).join("\r\n")}\r\n\r\nbody`) },
    { name: "400-deep nesting", raw: enc.encode(nested(400)) },
    { name: "100,000 empty parts", raw: enc.encode(`${HEAD}Content-Type: multipart/mixed; boundary="x"\r\n\r\n${"--x\r\n\r\n".repeat(100_000)}--x--\r\n`) },
    { name: "1 MB of binary noise", raw: noise(1024 * 1024) },
    { name: "binary noise after headers", raw: new Uint8Array([...enc.encode(`${HEAD}\r\n`), ...noise(256 * 1024, 7)]) },
    { name: "NULs in headers", raw: enc.encode(`From: a\u0000b@example.net\r\nSubject: \u0000\u0000\u0000\r\nTo: alice@example.com\r\n\r\nbody\u0000`) },
    {
      name: "invalid base64",
      raw: enc.encode(
        `${HEAD}Content-Type: multipart/mixed; boundary="x"\r\n\r\n--x\r\nContent-Transfer-Encoding: base64\r\nContent-Type: application/octet-stream; name=a.bin\r\n\r\n!!!!@@@@####====****\r\n--x--\r\n`,
      ),
    },
    {
      name: "unterminated multipart",
      raw: enc.encode(`${HEAD}Content-Type: multipart/mixed; boundary="x"\r\n\r\n--x\r\nContent-Type: text/plain\r\n\r\nno end`),
    },
    { name: "empty message", raw: new Uint8Array(0) },
  ];
  // Truncation anywhere: the sample cut at 40 evenly spaced points.
  const sample = enc.encode(SAMPLE);
  for (let i = 1; i <= 40; i++) cases.push({ name: `truncated at ${i}/40`, raw: sample.subarray(0, Math.floor((sample.byteLength * i) / 41)) });
  return cases;
}
