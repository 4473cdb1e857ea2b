// Finds every reason Keyward writes, in the code itself. The TypeScript checker reads src/ and collects each value a
// `reason` can take wherever one is set: an object literal's `reason` property (a condition, an event, a finding) or
// an argument bound to a parameter named `reason` (condition helpers, error constructors). A value is a string
// literal, a constant (KeyReason.KeyReady), a union type (a BackendError's `code`), a template over unions
// (`Step${state}`), a conditional, a local variable (also one destructured from an array), or what a function of
// ours returns. An expression that only passes on a reason set elsewhere (a parameter, `finding.reason`) is skipped,
// since its values are collected where they are set; anything else is an error, so that the reference never misses a
// reason silently.
import path from 'node:path';
import ts from 'typescript';

export type ReasonUse = 'condition' | 'event';

export interface FoundReason {
  reason: string;
  /** The kinds whose objects carry it. */
  kinds: Set<string>;
  uses: Set<ReasonUse>;
  /** file:line of each place it is set, relative to the repository. */
  sites: Set<string>;
}

/** Which kind's objects a reason set in a file is written to; the first matching prefix of src/ wins. */
const KINDS: readonly (readonly [string, string])[] = [
  ['controllers/managedkey/', 'ManagedKey'],
  ['controllers/keybackend/', 'KeyBackend'],
  ['controllers/keyceremony/approval-controller.ts', 'KeyCeremonyApproval'],
  ['controllers/keyceremony/', 'KeyCeremony'],
  ['ceremony/', 'KeyCeremonyApproval'],
];

/**
 * Not read: the runtime's `reason`s are abort reasons, and the backends' check results travel as a BackendError,
 * whose `code` is the reason the controllers write (collected there).
 */
const NOT_READ = ['runtime/', 'backends/'];

export function findReasons(repoRoot: string): Map<string, FoundReason> {
  const srcDir = path.join(repoRoot, 'src') + path.sep;
  const program = srcProgram(repoRoot, srcDir);
  const checker = program.getTypeChecker();
  const found = new Map<string, FoundReason>();
  const problems: string[] = [];

  const inSrc = (node: ts.Node): string => path.relative(srcDir, node.getSourceFile().fileName);
  const site = (node: ts.Node): string => {
    const { line } = node.getSourceFile().getLineAndCharacterOfPosition(node.getStart());
    return `src/${inSrc(node)}:${line + 1}`;
  };
  const kindOf = (node: ts.Node): string =>
    KINDS.find(([prefix]) => inSrc(node).startsWith(prefix))?.[1] ?? 'any';

  const literalsOf = (type: ts.Type): string[] | undefined => {
    const members = type.isUnion() ? type.types : [type];
    if (!members.every((t) => t.isStringLiteral())) return undefined;
    return members.map((t) => t.value);
  };

  /** The string values an expression can have, or undefined when nothing narrower than `string` is known. */
  const values = (expr: ts.Expression, seen: Set<ts.Node>): string[] | undefined => {
    if (ts.isParenthesizedExpression(expr) || ts.isAsExpression(expr)) return values(expr.expression, seen);
    if (ts.isConditionalExpression(expr)) return branches([expr.whenTrue, expr.whenFalse], seen);
    if (
      ts.isBinaryExpression(expr) &&
      [ts.SyntaxKind.QuestionQuestionToken, ts.SyntaxKind.BarBarToken].includes(expr.operatorToken.kind)
    ) {
      return branches([expr.left, expr.right], seen);
    }
    const literals = literalsOf(checker.getTypeAtLocation(expr));
    if (literals) return literals;
    if (ts.isTemplateExpression(expr)) {
      let results = [expr.head.text];
      for (const span of expr.templateSpans) {
        const parts = values(span.expression, seen);
        if (!parts) return undefined;
        results = results.flatMap((r) => parts.map((p) => r + p + span.literal.text));
      }
      return results;
    }
    if (ts.isCallExpression(expr)) return returnsOf(expr, seen);
    if (ts.isIdentifier(expr)) return variableValues(expr, seen);
    return undefined;
  };

  /** `ok ? 'KeyReady' : failure.reason`: the values of each branch; one that passes a reason on adds none. */
  const branches = (exprs: readonly ts.Expression[], seen: Set<ts.Node>): string[] | undefined => {
    const each = exprs.map((e) => values(e, seen) ?? (passesOn(e) ? [] : undefined));
    return each.every((v) => v !== undefined) && each.some((v) => v.length > 0) ? each.flat() : undefined;
  };

  /** A local `const reason = ...`, or `const [ok, reason] = cond ? [...] : [...]`. */
  const variableValues = (id: ts.Identifier, seen: Set<ts.Node>): string[] | undefined => {
    const symbol = ts.isShorthandPropertyAssignment(id.parent)
      ? checker.getShorthandAssignmentValueSymbol(id.parent)
      : checker.getSymbolAtLocation(id);
    const declaration = symbol?.valueDeclaration;
    if (!declaration || seen.has(declaration)) return undefined;
    seen.add(declaration);
    if (ts.isVariableDeclaration(declaration) && declaration.initializer)
      return values(declaration.initializer, seen);
    if (ts.isBindingElement(declaration) && ts.isArrayBindingPattern(declaration.parent)) {
      const index = declaration.parent.elements.indexOf(declaration);
      const variable = declaration.parent.parent;
      if (ts.isVariableDeclaration(variable) && variable.initializer)
        return elementValues(variable.initializer, index, seen);
    }
    return undefined;
  };
  const elementValues = (expr: ts.Expression, index: number, seen: Set<ts.Node>): string[] | undefined => {
    if (ts.isParenthesizedExpression(expr)) return elementValues(expr.expression, index, seen);
    if (ts.isConditionalExpression(expr)) {
      const [a, b] = [elementValues(expr.whenTrue, index, seen), elementValues(expr.whenFalse, index, seen)];
      return a || b ? [...(a ?? []), ...(b ?? [])] : undefined;
    }
    if (ts.isCallExpression(expr)) return returnsOf(expr, seen, (e) => elementValues(e, index, seen));
    const element = ts.isArrayLiteralExpression(expr) ? expr.elements[index] : undefined;
    return element ? values(element, seen) : undefined;
  };

  /** What a function of ours returns (`transitionReason(to)`), from its return statements. */
  const returnsOf = (
    call: ts.CallExpression,
    seen: Set<ts.Node>,
    of: (returned: ts.Expression) => string[] | undefined = (e) => values(e, seen),
  ): string[] | undefined => {
    const declaration = checker.getResolvedSignature(call)?.getDeclaration();
    if (!declaration || seen.has(declaration) || !('body' in declaration) || !declaration.body)
      return undefined;
    seen.add(declaration);
    const returned: (string[] | undefined)[] = [];
    const visitReturns = (node: ts.Node): void => {
      if (ts.isFunctionLike(node) && node !== declaration) return;
      if (ts.isReturnStatement(node) && node.expression) returned.push(of(node.expression));
      ts.forEachChild(node, visitReturns);
    };
    visitReturns(declaration.body);
    return returned.length > 0 && returned.every((v) => v !== undefined) ? returned.flat() : undefined;
  };

  /** `finding.reason`, `error.code`, a parameter: a reason set elsewhere (where it is collected), passed on. */
  const passesOn = (expr: ts.Expression): boolean => {
    if (ts.isPropertyAccessExpression(expr) || ts.isElementAccessExpression(expr)) return true;
    if (!ts.isIdentifier(expr)) return false;
    const symbol = ts.isShorthandPropertyAssignment(expr.parent)
      ? checker.getShorthandAssignmentValueSymbol(expr.parent)
      : checker.getSymbolAtLocation(expr);
    const declaration = symbol?.valueDeclaration;
    // A parameter, or a name destructured from an object or a value read elsewhere (`const { reason } = found`).
    return declaration !== undefined && (ts.isParameter(declaration) || ts.isBindingElement(declaration));
  };

  const collect = (expr: ts.Expression, expected: ts.Type | undefined, use: ReasonUse, at: ts.Node): void => {
    // A `reason` typed as a string: not a schema's property, nor a promise's rejection reason (any).
    if (!expected || !isStringLike(expected)) return;
    const v = values(expr, new Set());
    if (!v) {
      if (!passesOn(expr))
        problems.push(`${site(at)}: cannot tell which reasons \`${expr.getText()}\` can be`);
      return;
    }
    for (const reason of v) {
      const entry = found.get(reason) ?? { reason, kinds: new Set(), uses: new Set(), sites: new Set() };
      entry.kinds.add(kindOf(at));
      entry.uses.add(use);
      entry.sites.add(site(at));
      found.set(reason, entry);
    }
  };

  const visit = (node: ts.Node): void => {
    if (
      (ts.isPropertyAssignment(node) || ts.isShorthandPropertyAssignment(node)) &&
      propertyName(node.name) === 'reason' &&
      ts.isObjectLiteralExpression(node.parent)
    ) {
      const literalType = checker.getContextualType(node.parent);
      // An event is an object literal typed EventInput (src/runtime/events.ts); every other reason is a status one.
      const use = literalType?.getSymbol()?.getName() === 'EventInput' ? 'event' : 'condition';
      if (ts.isPropertyAssignment(node)) {
        collect(node.initializer, checker.getContextualType(node.initializer), use, node);
      } else {
        const property = literalType && checker.getNonNullableType(literalType).getProperty('reason');
        collect(node.name, property && checker.getTypeOfSymbol(property), use, node);
      }
    } else if (ts.isCallExpression(node) || ts.isNewExpression(node)) {
      const signature = checker.getResolvedSignature(node);
      node.arguments?.forEach((argument, i) => {
        const parameter = signature?.getParameters()[i];
        if (parameter?.getName() === 'reason')
          collect(argument, checker.getTypeOfSymbol(parameter), 'condition', argument);
      });
    }
    ts.forEachChild(node, visit);
  };
  for (const file of program.getSourceFiles()) {
    if (file.fileName.startsWith(srcDir) && !NOT_READ.some((dir) => inSrc(file).startsWith(dir))) visit(file);
  }
  if (problems.length > 0) throw new Error(`reasons the reference cannot read:\n${problems.join('\n')}`);
  return found;
}

/**
 * src/ with the standard library and TypeBox (the API's status types are its Static<>), without the SDKs'
 * declarations: thousands of files that hold no reason of ours, and most of the time a whole program takes.
 */
function srcProgram(repoRoot: string, srcDir: string): ts.Program {
  const configPath = path.join(repoRoot, 'tsconfig.json');
  const config = ts.getParsedCommandLineOfConfigFile(
    configPath,
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (d) => {
        throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
      },
    },
  );
  if (!config) throw new Error(`cannot read ${configPath}`);
  const read = [
    srcDir,
    path.dirname(ts.getDefaultLibFilePath(config.options)) + path.sep,
    path.join(repoRoot, 'node_modules', 'typebox') + path.sep,
  ];
  const host = ts.createCompilerHost(config.options);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (fileName, language, ...rest) =>
    read.some((dir) => fileName.startsWith(dir))
      ? getSourceFile(fileName, language, ...rest)
      : ts.createSourceFile(fileName, '', language);
  return ts.createProgram(
    config.fileNames.filter((f) => f.startsWith(srcDir)),
    config.options,
    host,
  );
}

function isStringLike(type: ts.Type): boolean {
  return (type.isUnion() ? type.types : [type]).every((t) => (t.flags & ts.TypeFlags.StringLike) !== 0);
}

function propertyName(name: ts.PropertyName): string | undefined {
  return ts.isIdentifier(name) || ts.isStringLiteral(name) ? name.text : undefined;
}
