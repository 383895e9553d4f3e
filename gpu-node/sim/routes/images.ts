/**
 * `/v1/images/generations`: `{model, prompt, n, size, response_format}` answered with real PNGs
 * (media/png.ts), as `b64_json` or, for `response_format: "url"`, a `data:` URL (nothing is
 * hosted). Each image holds a batch slot for its prompt's prefill and 20 decode-step-long
 * denoising steps.
 */
import { z } from 'zod';
import { sendJson, validateBody } from '../http-io.ts';
import { pngImage } from '../media/png.ts';
import type { RouteCall, SimContext } from '../sim-context.ts';
import { SimError, unknownModel } from '../sim-error.ts';
import { seedOf, tokenizeText } from '../text-model.ts';

const DENOISING_STEPS = 20;
const MAX_SIDE = 2048;

const imageRequest = z.looseObject({
  model: z.string().min(1),
  prompt: z.string().min(1),
  n: z.number().int().min(1).max(10).nullish(),
  size: z.string().nullish(),
  response_format: z.enum(['url', 'b64_json']).nullish(),
  output_format: z.string().nullish(),
});

function dimensionsOf(size: string | null | undefined): [number, number] {
  if (size === null || size === undefined || size === 'auto') return [1024, 1024];
  const match = /^(\d+)x(\d+)$/.exec(size);
  const [width, height] = [Number(match?.[1]), Number(match?.[2])];
  if (match === null || width < 1 || height < 1 || width > MAX_SIDE || height > MAX_SIDE) {
    throw new SimError(`size must be WIDTHxHEIGHT with sides from 1 to ${MAX_SIDE}, or auto`, {
      status: 400,
      param: 'size',
    });
  }
  return [width, height];
}

export async function answerImages(context: SimContext, call: RouteCall): Promise<void> {
  const request = validateBody(imageRequest, call.body);
  if (request.model !== context.options.servedModelName) throw unknownModel(request.model);
  if (
    request.output_format !== null &&
    request.output_format !== undefined &&
    request.output_format !== 'png'
  ) {
    throw new SimError('output_format must be png: the simulator draws PNGs only', {
      status: 400,
      param: 'output_format',
    });
  }
  const [width, height] = dimensionsOf(request.size);
  const count = request.n ?? 1;
  const promptTokens = tokenizeText(request.prompt).length;
  await Promise.all(
    Array.from({ length: count }, () => context.engine.embed(promptTokens, call.signal, DENOISING_STEPS)),
  );
  const data = Array.from({ length: count }, (_, index) => {
    const base64 = pngImage(width, height, seedOf(`${request.prompt}\u0000${index}`)).toString('base64');
    const image =
      request.response_format === 'url' ? { url: `data:image/png;base64,${base64}` } : { b64_json: base64 };
    return { ...image, revised_prompt: request.prompt };
  });
  sendJson(call.response, 200, {
    created: Math.floor(Date.now() / 1000),
    data,
    output_format: 'png',
    size: `${width}x${height}`,
    usage: { input_tokens: promptTokens, output_tokens: 0, total_tokens: promptTokens },
  });
}
