import { Errand } from "errand";
export const errand = new Errand({ database: "sqlite:///tmp/c.db" });
export const t = errand.task("approve", async (args, ctx) => await ctx.waitFor("approved"));
