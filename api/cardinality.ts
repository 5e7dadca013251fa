/** "3" means exactly 3 members; "2+" means at least 2. */
export interface ParsedCardinality {
  min: number;
  exact: boolean;
}

export function parseCardinality(cardinality: string): ParsedCardinality | undefined {
  const match = /^(\d{1,4})(\+?)$/.exec(cardinality);
  if (!match) return undefined;
  return { min: Number(match[1]), exact: match[2] === '' };
}

/** Why `members` breaks the cardinality, or undefined when it fits. */
export function cardinalityViolation(roleId: string, cardinality: string, members: number): string | undefined {
  const parsed = parseCardinality(cardinality);
  if (!parsed) return `role "${roleId}" has an invalid cardinality "${cardinality}"`;
  if (parsed.exact && members !== parsed.min) {
    return `${roleId} needs exactly ${parsed.min} member${parsed.min === 1 ? '' : 's'} (cardinality "${cardinality}"), got ${members}`;
  }
  if (members < parsed.min) {
    return `${roleId} needs at least ${parsed.min} member${parsed.min === 1 ? '' : 's'} (cardinality "${cardinality}"), got ${members}`;
  }
  return undefined;
}
