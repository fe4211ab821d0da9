/** What every client of the local platform's emulators uses: its region and its stand-in credentials. */
export const LOCAL_REGION = "us-east-1";
export const LOCAL_CREDENTIALS = { accessKeyId: "local", secretAccessKey: "local" };
