/**
 * Character classes for JavaScript names in a function's source, for regular expressions without
 * `\p{ID_Start}` and `\p{ID_Continue}`. V8 compiles a regular expression again for the first
 * two-byte string it meets, and with those classes that took ~2–3 ms each on our 2-core VM (against
 * ~0.1 ms for a one-byte string): a function's source is two-byte whenever its file holds one
 * character past U+00FF anywhere (a dash or a Greek letter in a comment), and four such
 * expressions made a one-shot call ~2.4 ms slower.
 *
 * Latin-1 letters are exact. Any character past U+00FF counts as part of a name but for the
 * whitespace ones: outside strings and comments, no other may stand in code, and a wrong name
 * found in a string or a comment costs nothing (see callerGlobalIn). Without the `u` flag, both
 * halves of a surrogate pair are such characters, so astral names match too.
 */

/** Past U+00FF, every character but whitespace (U+1680, U+2000–U+200A, U+2028, U+2029, U+202F, U+205F, U+3000, U+FEFF). */
const kBeyondLatin1 = '\\u0100-\\u167f\\u1681-\\u1fff\\u200b-\\u2027\\u202a-\\u202e\\u2030-\\u205e\\u2060-\\u2fff\\u3001-\\ufefe\\uff00-\\uffff';

/** What a name may start with, inside `[...]`. */
export const kNameStart = `A-Za-z_$\\xaa\\xb5\\xba\\xc0-\\xd6\\xd8-\\xf6\\xf8-\\xff${kBeyondLatin1}`;

/** What a name may go on with, inside `[...]`. */
export const kNamePart = `${kNameStart}0-9\\xb7`;
