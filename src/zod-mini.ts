/**
 * zod/mini, with zod's English messages. The Worker validates with zod/mini rather than zod's
 * classic API because the classic build and the locales it pulls in were most of the Worker
 * bundle (docs/decisions/0007-worker-bundle-size.md). zod/mini loads no locale of its own, and
 * without one every issue reads just "Invalid input"; every module that builds schemas imports
 * zod from here (`import * as z from '…/zod-mini.ts'`, a namespace import, which the bundler can
 * shake), so the messages are English whichever module loads first.
 */
import { config } from 'zod/mini';
import { en } from 'zod/locales';

config(en());

export * from 'zod/mini';
