export interface Column {
  header: string;
  /** Numbers read best aligned right. Default "left". */
  align?: "left" | "right";
}

/** Aligned columns with an upper-case header and two spaces between columns, like `docker ps`. */
export function renderTable(columns: readonly Column[], rows: readonly (readonly string[])[]): string {
  const widths = columns.map((c, i) => Math.max(c.header.length, ...rows.map((r) => width(r[i] ?? ""))));
  const line = (cells: readonly string[]) =>
    columns
      .map((c, i) => {
        const cell = cells[i] ?? "";
        const pad = " ".repeat(widths[i]! - width(cell));
        return c.align === "right" ? pad + cell : cell + pad;
      })
      .join("  ")
      .trimEnd();
  return [line(columns.map((c) => c.header.toUpperCase())), ...rows.map(line)].join("\n");
}

/** Code points rather than UTF-16 units, without combining marks: close to what a terminal shows. */
function width(text: string): number {
  let n = 0;
  for (const char of text) if (!/\p{Mn}/u.test(char)) n++;
  return n;
}
