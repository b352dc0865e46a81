// The app's own yes/no question (issue #32: the usage-limit question was the
// browser's confirm(), unlike every other dialog of the dashboard). One at a
// time; ConfirmHost (ui/common.tsx) shows it and answers the promise.
import { signal } from '@preact/signals';

export interface Question {
  title: string;
  body: string;
  yes: string;
  no?: string;
  danger?: boolean;
  answer: (yes: boolean) => void;
}

export const question = signal<Question | null>(null);

/** Asks; resolves true for yes, false for no (or closed). A question asked
 * while another is open answers the older one no. */
export function ask(q: Omit<Question, 'answer'>): Promise<boolean> {
  question.value?.answer(false);
  return new Promise((resolve) => {
    question.value = {
      ...q,
      answer: (yes) => {
        question.value = null;
        resolve(yes);
      },
    };
  });
}
