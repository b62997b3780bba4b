// The welcome email, sent over SMTP with nodemailer: inline by the blocking route, by a worker for the errand route.
import nodemailer, { type Transporter } from "nodemailer";
import { config } from "./config.js";

export interface Welcome {
  userId: number;
  name: string;
  email: string;
}

let transport: Transporter | null = null;

function transporter(): Transporter {
  // Plain SMTP to the loopback server; pooled so that a burst reuses connections like a real app would.
  transport ??= nodemailer.createTransport({
    host: "127.0.0.1",
    port: Number(process.env.SIGNUP_SMTP_PORT ?? config.smtpPort),
    secure: false,
    ignoreTLS: true,
    pool: true,
    maxConnections: 50,
  });
  return transport;
}

export async function sendWelcomeEmail(welcome: Welcome): Promise<string> {
  const info = await transporter().sendMail({
    from: "Errand Demo <hello@signup.example>",
    // The address object: nodemailer quotes or encodes the name, so no name can add a recipient or break the header.
    to: { name: welcome.name, address: welcome.email },
    subject: `Welcome, ${welcome.name}!`,
    text: `Hi ${welcome.name},\n\nthanks for signing up (user #${welcome.userId}).\n`,
    headers: { "X-Signup-User": String(welcome.userId) },
  });
  return info.messageId;
}

export function closeMail(): void {
  transport?.close();
  transport = null;
}
