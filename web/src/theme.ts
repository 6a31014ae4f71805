/** Light, dark or the system's choice; remembered on this device (not a secret) and in the user's preferences. */
export type Theme = "light" | "dark" | "system";

export function applyTheme(theme: string) {
  const chosen: Theme = theme === "light" || theme === "dark" ? theme : "system";
  if (chosen === "system") delete document.documentElement.dataset.theme;
  else document.documentElement.dataset.theme = chosen;
  try {
    localStorage.setItem("flint-theme", chosen);
  } catch {
    // Storage can be off (private mode): the theme then lasts for this page only.
  }
}

export function storedTheme(): Theme {
  try {
    return (localStorage.getItem("flint-theme") as Theme | null) ?? "system";
  } catch {
    return "system";
  }
}
