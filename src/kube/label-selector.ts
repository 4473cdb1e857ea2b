// metav1.LabelSelector matching, as the API server applies it: every matchLabels pair and every expression must
// hold; an empty or absent selector matches everything.

export interface LabelSelectorRequirement {
  key: string;
  operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  values?: string[];
}

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelSelectorRequirement[];
}

export function matchesLabelSelector(
  selector: LabelSelector | undefined,
  labels: Record<string, string> | undefined,
): boolean {
  const actual = labels ?? {};
  const labelsMatch = Object.entries(selector?.matchLabels ?? {}).every(
    ([key, value]) => actual[key] === value,
  );
  return (
    labelsMatch &&
    (selector?.matchExpressions ?? []).every(({ key, operator, values = [] }) => {
      const has = Object.hasOwn(actual, key);
      switch (operator) {
        case 'In':
          return has && values.includes(actual[key] ?? '');
        case 'NotIn':
          return !has || !values.includes(actual[key] ?? '');
        case 'Exists':
          return has;
        case 'DoesNotExist':
          return !has;
      }
    })
  );
}
