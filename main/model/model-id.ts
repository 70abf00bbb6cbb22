// A model's id in the library, the one check for it everywhere (import, API arguments, kept-run files): it
// is also a folder and file name, so only letters, digits, '.', '_' and '-', starting with a letter or digit.
import { z } from 'zod';

export const modelIdSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, "must be the id of a model in the library (letters, digits, '.', '_' and '-', at most 128)");
