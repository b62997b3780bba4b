// Released migrations are never edited: a change goes in a new numbered file.
// The errand_enqueue view refuses args holding a lone surrogate (a \uD800–\uDFFF escape not in a pair), as
// task.enqueue() and PostgreSQL's jsonb do: decoded, such an escape is the bytes ED A0–BF …, which no text holds.
// A trigger of its own, evaluated only when the args hold a \uD escape: a refusal here ends the whole insert.
const inBytes = (b: string) =>
  Array.from({ length: 32 }, (_, i) => `instr(${b}, X'ED${(0xa0 + i).toString(16).toUpperCase()}') > 0`).join(" OR ");

export default /* sql */ `
CREATE TRIGGER errand_enqueue_surrogates INSTEAD OF INSERT ON errand_enqueue
WHEN typeof(NEW.args) = 'text' AND instr(lower(NEW.args), '\\ud') > 0 AND json_valid(NEW.args)
BEGIN
  SELECT RAISE(ABORT, 'errand_enqueue: args hold a lone surrogate (a \\uD800-\\uDFFF escape that is not half of a pair), which is not text: remove it. Nothing was stored.')
  WHERE EXISTS (SELECT 1 FROM json_tree(NEW.args)
                WHERE (type = 'text' AND (${inBytes("CAST(atom AS BLOB)")}))
                   OR (typeof(key) = 'text' AND (${inBytes("CAST(key AS BLOB)")})));
END;
`;
