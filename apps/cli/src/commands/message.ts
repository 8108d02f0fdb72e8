import { decodeBareBytes, encodeBareBytes, fromHex, OckamError, toHex, utf8 } from '@ockam/core';
import type { SendMessageResponse } from '@ockam/node/control';
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { parseDuration } from '../output.js';
import { resolveRoute } from '../routes.js';
import { readStdinRoute } from '../stdin.js';

type Run = (fn: (ctx: CliContext) => Promise<void>) => Promise<void>;

/** `--retry-count`, else `$OCKAM_COMMAND_RETRY_COUNT` (as Ockam reads it), else 0. */
function retryCount(flag: string | undefined): number {
  const text = flag ?? process.env.OCKAM_COMMAND_RETRY_COUNT;
  if (text === undefined || text === '') return 0;
  if (!/^\d+$/.test(text) || Number(text) > 1000)
    throw new OckamError('application', 'invalid', `Invalid retry count '${text}': a number from 0 to 1000`);
  return Number(text);
}

export function registerMessageCommands(program: Command, run: Run): void {
  const message = program.command('message').description('Send messages along routes');
  message
    .command('send')
    .description('Send a message along a route and print the reply')
    .argument('<message>', 'the message (text, or hex with --hex)')
    .requiredOption(
      '--to <route>',
      "where to send it, e.g. /node/n1/service/uppercase; a leading '-' is replaced by a route read from stdin",
    )
    .option('--from <node>', 'the node that sends it (default node if omitted)')
    .option('--timeout <duration>', 'how long to wait for the reply', '10s')
    .option('--hex', 'the message is hex, and the reply is printed as hex')
    .option(
      '--retry-count <n>',
      'send again this many times after a failure (default $OCKAM_COMMAND_RETRY_COUNT or 0)',
    )
    .option('--retry-delay <duration>', 'pause between attempts (default $OCKAM_COMMAND_RETRY_DELAY or 1s)')
    .option('--no-retry', 'never send again, whatever --retry-count or the environment say')
    .addHelpText(
      'after',
      '\nThe message travels as a BARE byte vector, as `ockam message send` does in Ockam Rust.\n\nExamples:\n  $ ockam message send hello --to /node/n1/service/uppercase\n  $ ockam message send "hello ockam!" --from n1 --to /node/n1/node/n2/node/n3/service/uppercase\n  $ ockam message send 0102 --hex --to /node/n1/service/echo',
    )
    .action(
      (
        text: string,
        opts: {
          to: string;
          from?: string;
          timeout: string;
          hex?: boolean;
          retryCount?: string;
          retryDelay?: string;
          retry: boolean;
        },
      ) =>
        run(async (ctx) => {
          const timeoutMs = parseDuration(opts.timeout);
          const retries = opts.retry ? retryCount(opts.retryCount) : 0;
          const retryDelayMs = parseDuration(
            opts.retryDelay ?? process.env.OCKAM_COMMAND_RETRY_DELAY ?? '1s',
          );
          // `-/…` placeholders were filled in before parsing (stdin.ts); a lone `-` is the whole route.
          const to = opts.to === '-' ? await readStdinRoute() : opts.to;
          const payload = opts.hex ? fromHex(text, 'message') : utf8(text);
          const from = await ctx.runningNode(opts.from);
          const sendOnce = async (): Promise<SendMessageResponse> => {
            const created: string[] = [];
            try {
              const route = await resolveRoute(ctx, from.name, to, { created, timeoutMs });
              return await ctx
                .client(from.name)
                .call(
                  'sendMessage',
                  { route, payloadHex: toHex(encodeBareBytes(payload)), timeoutMs },
                  { timeoutMs: timeoutMs + 5_000 },
                );
            } finally {
              // Channels made for `/secure` hops of this one message are closed with it.
              for (const a of created)
                await ctx
                  .client(from.name)
                  .call('deleteSecureChannel', { address: a })
                  .catch(() => {});
            }
          };
          let reply: SendMessageResponse;
          for (let attempt = 0; ; attempt++) {
            try {
              reply = await sendOnce();
              break;
            } catch (e) {
              if (attempt >= retries) throw e;
              ctx.out.info(`Sending failed (${(e as Error).message}); retrying in ${retryDelayMs} ms`);
              await new Promise((r) => setTimeout(r, retryDelayMs));
            }
          }
          const raw = fromHex(reply.payloadHex);
          let body: Uint8Array;
          try {
            body = decodeBareBytes(raw, 'reply');
          } catch (e) {
            throw new OckamError(
              'application',
              'serialization',
              `The reply is not a BARE byte vector (${raw.length} bytes: ${toHex(raw.subarray(0, 32))}…)`,
              { cause: e },
            );
          }
          let shown: string;
          if (opts.hex) shown = toHex(body);
          else {
            try {
              shown = new TextDecoder('utf-8', { fatal: true }).decode(body);
            } catch (e) {
              throw new OckamError(
                'application',
                'serialization',
                'The reply is not valid UTF-8; use --hex to print it',
                { cause: e },
              );
            }
          }
          ctx.out.result(shown, { reply: shown, returnRoute: reply.returnRoute });
        }),
    );
}
