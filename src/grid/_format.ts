/**
 * Python's `format(x, ".Nf")`: the exact binary value rounded to N decimals, ties to even.
 * JavaScript's toFixed rounds exact ties up (0.125 -> "0.13", Python says "0.12"), and the
 * run ids must match the predecessor's byte for byte.
 */
export function formatFixed(x: number, digits: number): string {
  if (!Number.isFinite(x)) return String(x);
  // toFixed also rounds the exact binary value, so it agrees with Python except on an exact
  // tie, whose expansion one digit further ends in 5; those (and signs) take the slow path.
  if (x > 0 && x < 1e21) {
    const next = x.toFixed(digits + 1);
    if (!next.endsWith("5")) return x.toFixed(digits);
  }
  const negative = x < 0 || Object.is(x, -0);
  // toFixed(100) is the exact decimal expansion for every double of magnitude >= 2^-100,
  // which covers every value a physics grid can hold.
  const exact = Math.abs(x).toFixed(100);
  const [intPart, frac = ""] = exact.split(".") as [string, string?];
  const kept = frac.slice(0, digits);
  const rest = frac.slice(digits);
  let digitsStr = intPart + kept;
  const first = rest.charAt(0);
  const beyond = rest.slice(1);
  const lastKept = Number(digitsStr.charAt(digitsStr.length - 1));
  const roundUp = first > "5" || (first === "5" && (/[1-9]/.test(beyond) || lastKept % 2 === 1));
  if (roundUp) digitsStr = (BigInt(digitsStr) + 1n).toString().padStart(digitsStr.length, "0");
  const whole = digitsStr.slice(0, digitsStr.length - digits) || "0";
  const fraction = digits > 0 ? "." + digitsStr.slice(digitsStr.length - digits) : "";
  const body = whole + fraction;
  return negative && /[1-9]/.test(body) ? "-" + body : body;
}

/**
 * Python's `str()` of a number as the predecessor wrote it into run ids: an integer-valued
 * preset value (217) prints without decimals, anything else like Python's float repr.
 */
export function formatPlain(x: number): string {
  // Both languages print the shortest round-trip digits; they differ only in exponent
  // notation (1e-05 vs 0.00001), which a kick sigma in km/s never reaches.
  return String(x);
}
