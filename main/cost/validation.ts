// Turns zod's issues into one message that names every offending field, for the cost module's
// boundaries (estimator input, hardware catalog files, model files).
import type { z } from 'zod';

export function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => (issue.path.length ? `${issue.path.join('.')}: ${issue.message}` : issue.message))
    .join('; ');
}
