// Language of the interface: French first, English ready. The choice is remembered in this browser; by default
// it follows the browser's language (English for en-*, French otherwise).
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import { createFormatters, type Formatters, type Locale } from '../lib/format.js';
import { messages, type MessageKey } from './messages.js';

export type Translate = (key: MessageKey, values?: Record<string, string | number>) => string;

interface I18n {
  locale: Locale;
  setLocale(locale: Locale): void;
  t: Translate;
  fmt: Formatters;
}

const STORAGE_KEY = 'keney.locale';

function initialLocale(): Locale {
  try {
    const stored = window.localStorage.getItem(STORAGE_KEY);
    if (stored === 'fr' || stored === 'en') return stored;
  } catch {
    // storage disabled: follow the browser
  }
  return navigator.language?.toLowerCase().startsWith('en') ? 'en' : 'fr';
}

export function translate(locale: Locale, key: MessageKey, values?: Record<string, string | number>): string {
  const template = messages[locale][key] ?? messages.fr[key] ?? key;
  if (!values) return template;
  return template.replace(/\{(\w+)\}/g, (whole, name: string) => (name in values ? String(values[name]) : whole));
}

const I18nContext = createContext<I18n | undefined>(undefined);

export function I18nProvider({ children }: { children: ReactNode }) {
  const [locale, setLocaleState] = useState<Locale>(initialLocale);
  useEffect(() => {
    document.documentElement.lang = locale;
  }, [locale]);
  const setLocale = useCallback((next: Locale) => {
    setLocaleState(next);
    try {
      window.localStorage.setItem(STORAGE_KEY, next);
    } catch {
      // not remembered
    }
  }, []);
  const value = useMemo<I18n>(
    () => ({ locale, setLocale, t: (key, values) => translate(locale, key, values), fmt: createFormatters(locale) }),
    [locale, setLocale],
  );
  return <I18nContext.Provider value={value}>{children}</I18nContext.Provider>;
}

export function useI18n(): I18n {
  const value = useContext(I18nContext);
  if (!value) throw new Error('useI18n outside I18nProvider');
  return value;
}
