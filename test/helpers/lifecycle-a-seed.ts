// Kept only because files this change does not own (test/e2e, test/lib/bulk-query-shapes) still
// import this path: the helpers live in seed-users.ts (what a test writes) and table-state.ts
// (what it reads back). Delete once they import those directly.
export { idOf, seedActivities, seedFollow, seedToken, seedUser, seedUsers } from './seed-users';
export { auditTrail, tableCounts, tableSnapshot, userRow } from './table-state';
