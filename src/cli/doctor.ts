export async function doctor(args: string[]): Promise<number> { void args; return 0; }
