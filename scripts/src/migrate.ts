import { openDatabase } from "./database.ts";

const database = await openDatabase();
console.log(`migrations applied (${database.driver})`);
await database.close();
