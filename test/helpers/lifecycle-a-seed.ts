// Renamed to seed-rows.ts; test/lib (reorganised by another branch) still imports this name.
// Delete this file once nothing imports it.
export * from './seed-rows';
