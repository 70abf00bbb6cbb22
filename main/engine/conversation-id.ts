// A conversation's id, the one check for it everywhere (API arguments, the engine, saved folders): it is
// also a folder and file name, so only letters, digits, '.', '_' and '-', not starting with a dot.
import { z } from 'zod';

export const conversationIdSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, "may hold only letters, digits, '.', '_' and '-' (at most 128)");
