// Type-level equality, for compile-time checks that a hand-written API type is exactly what a zod
// schema accepts (or what a module below the API produces): `const ok: Same<A, B> = true` compiles only
// when A and B are mutually assignable.
export type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : never) : never;
