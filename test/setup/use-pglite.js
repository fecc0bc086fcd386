process.env.CTL_TEST_BACKEND = 'pglite';
