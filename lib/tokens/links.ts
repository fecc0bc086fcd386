/** The pages behind every printed or mailed link (served by `ctl serve`). */
export const links = {
  registration: (appUrl: string, token: string) => `${appUrl}/registration/${token}`,
  passwordReset: (appUrl: string, token: string) => `${appUrl}/password_reset/${token}`,
  confirmation: (appUrl: string, token: string) => `${appUrl}/verify/${token}`,
};
