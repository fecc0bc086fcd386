process.env.CTL_TEST_BACKEND = 'postgres';
