import { BATCH_GROWTH_LIMIT, loadConfig } from '../../lib/config';

describe('batch sizing', () => {
  test('without CTL_BATCH_SIZE batches start at 5000 and may grow to the growth limit', () => {
    const config = loadConfig({ CTL_ENV_FILE: '' });
    expect(config.batchSize).toBe(5000);
    expect(config.maxBatchSize).toBe(BATCH_GROWTH_LIMIT);
    expect(BATCH_GROWTH_LIMIT).toBeGreaterThan(5000);
  });

  test('CTL_BATCH_SIZE fixes the size: batches never grow past it', () => {
    expect(loadConfig({ CTL_ENV_FILE: '', CTL_BATCH_SIZE: '250' })).toMatchObject({ batchSize: 250, maxBatchSize: 250 });
    expect(loadConfig({ CTL_ENV_FILE: '', CTL_BATCH_SIZE: '500000' })).toMatchObject({ batchSize: 500000, maxBatchSize: 500000 });
  });
});
