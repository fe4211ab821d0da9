import * as pulumi from "@pulumi/pulumi";

/**
 * Options for the children of a component that took them over from its own parent: the children
 * keep their names, and the alias to their old parent lets a deployed stack update them in place
 * (without it, `pulumi up` would replace them, tables and queues included).
 * https://www.pulumi.com/docs/iac/concepts/options/aliases/
 */
export function movedFromParent(component: pulumi.ComponentResource, opts: pulumi.ComponentResourceOptions | undefined): pulumi.CustomResourceOptions {
  return { parent: component, aliases: [{ parent: opts?.parent ?? pulumi.rootStackResource }] };
}
