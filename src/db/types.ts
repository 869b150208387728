import type { Prisma, PrismaClient } from '../generated/prisma/client.js';

/**
 * What every store takes: the client itself or the client of an interactive transaction, so a caller can
 * make one transaction span several stores (rule state and the outbox row it produced commit together).
 */
export type Db = PrismaClient | Prisma.TransactionClient;
