// Requests of ResKV's OpenAI-compatible API, validated with zod. Unknown fields that OpenAI clients
// send by habit are ignored; known fields with unsupported values are rejected naming the field.
import { z } from 'zod';

const textContent = z.union([
  z.string(),
  z.array(z.object({ type: z.literal('text'), text: z.string() })).transform((parts) => parts.map((p) => p.text).join('')),
]);

const stopString = z.string().min(1, 'stop strings must not be empty').max(200);

const sampling = {
  model: z.string().min(1, 'must name a model'),
  max_tokens: z.number().int().min(1).max(32768).nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().gt(0).max(1).nullish(),
  /** Not in OpenAI's API but in most local servers'. */
  top_k: z.number().int().min(0).max(100000).nullish(),
  seed: z.number().int().min(0).max(2 ** 32 - 1).nullish(),
  stop: z.union([stopString, z.array(stopString).max(8)]).nullish(),
  stream: z.boolean().nullish(),
  /** include_usage: a last chunk before [DONE] carries the usage (OpenAI's rule). */
  stream_options: z.object({ include_usage: z.boolean().nullish() }).nullish(),
  n: z.literal(1, 'only n = 1 is supported').nullish(),
  presence_penalty: z.literal(0, 'presence_penalty is not supported (use reskv_repetition_penalty)').nullish(),
  frequency_penalty: z.literal(0, 'frequency_penalty is not supported (use reskv_repetition_penalty)').nullish(),
  reskv_repetition_penalty: z.number().min(1).max(5).nullish(),
  /** ResKV: residual depth of the RVQ cache for this request. */
  reskv_depth: z.number().int().min(1).max(64).nullish(),
  /** ResKV: the KV cache format for this request. */
  reskv_cache: z.string().min(1).max(200).nullish(),
};

export const chatCompletionBodySchema = z.object({
  ...sampling,
  max_completion_tokens: z.number().int().min(1).max(32768).nullish(),
  tools: z.array(z.unknown()).max(0, 'tools are not supported').nullish(),
  logprobs: z.literal(false, 'logprobs are not supported').nullish(),
  messages: z
    .array(
      z
        .object({ role: z.enum(['system', 'developer', 'user', 'assistant']), content: textContent })
        // an empty user turn gives the model nothing to answer (and no tokens to run for some models)
        .refine((m) => m.role !== 'user' || m.content.length > 0, { message: "a user message's content must not be empty", path: ['content'] }),
    )
    .min(1, 'must hold at least one message'),
});

export const completionBodySchema = z.object({
  ...sampling,
  echo: z.literal(false, 'echo is not supported').nullish(),
  logprobs: z.literal(0, 'logprobs are not supported').nullish(),
  prompt: z.union([z.string(), z.array(z.string()).length(1, 'only one prompt per request is supported').transform((p) => p[0])]),
});

export type ChatCompletionBody = z.output<typeof chatCompletionBodySchema>;
export type CompletionBody = z.output<typeof completionBodySchema>;
