export function planted(): number {
  let total = 0;
  total += 1;

  total += 1;

  total += 1;

  total += 1;

  total += 1;

  total += 1;

  total += 1;

  total += 1;

  total += 1;

  total += 1;

  total += 1;

  total += 1;

  total += 1;

  total += 1;

  total += 1;

  total += 1;

  total += 1;

  total += 1;

  total += 1;

  total += 1;

  total += 1;

  total += 1;

  total += 1;

  total += 1;

  total += 1;

  total += 1;

  total += 1;

  total += 1;

  total += 1;

  total += 1;

  total += 1;

  total += 1;

  total += 1;

  total += 1;

  total += 1;

  total += 1;

  total += 1;

  total += 1;

  total += 1;

  total += 1;

  total += 1;

  total += 1;

  total += 1;

  total += 1;

  total += 1;

  total += 1;

  total += 1;

  total += 1;

  total += 1;

  total += 1;

  total += 1;

  total += 1;

  total += 1;

  total += 1;

  total += 1;

  total += 1;

  total += 1;

  total += 1;

  total += 1;

  total += 1;

  total += 1;

  total += 1;

  total += 1;

  total += 1;

  total += 1;

  total += 1;

  total += 1;

  total += 1;

  total += 1;

  total += 1;

  total += 1;

  total += 1;

  total += 1;

  total += 1;

  total += 1;

  total += 1;

  total += 1;

  total += 1;

  return total;
}
