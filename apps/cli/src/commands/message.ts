import { decodeBareBytes, encodeBareBytes, fromHex, OckamError, toHex, utf8 } from '@ockam/core';
import type { SendMessageResponse } from '@ockam/node/control';
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { parseDuration } from '../output.js';
import { resolveRoute } from '../routes.js';
import { readStdinRoute } from '../stdin.js';

type Run = (fn: (ctx: CliContext) => Promise<void>) => Promise<void>;

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
    .addHelpText(
      'after',
      '\nThe message travels as a BARE byte vector, as `ockam message send` does in Ockam Rust.\n\nExamples:\n  $ ockam message send hello --to /node/n1/service/uppercase\n  $ ockam message send "hello ockam!" --from n1 --to /node/n1/node/n2/node/n3/service/uppercase\n  $ ockam message send 0102 --hex --to /node/n1/service/echo',
    )
    .action((text: string, opts: { to: string; from?: string; timeout: string; hex?: boolean }) =>
      run(async (ctx) => {
        const timeoutMs = parseDuration(opts.timeout);
        const to = opts.to === '-' ? await readStdinRoute() : opts.to;
        const payload = opts.hex ? fromHex(text, 'message') : utf8(text);
        const from = await ctx.runningNode(opts.from);
        const created: string[] = [];
        let reply: SendMessageResponse;
        try {
          const route = await resolveRoute(ctx, from.name, to, { created, timeoutMs });
          reply = await ctx
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
