import { Injectable, type PipeTransform } from '@nestjs/common';
import { Problem } from '../../common/problem';
import { SECRET_NAME, SECRET_NAME_MESSAGE } from './secrets.dto';

/**
 * Validates the `:name` route segment. Reads and deletes answer 404 for a name that cannot
 * exist (like any unknown secret); a write answers 400 with a field error, since the caller is
 * choosing the name.
 */
@Injectable()
export class SecretNameParam implements PipeTransform<string, string> {
  constructor(private readonly onInvalid: 'not-found' | 'invalid') {}

  transform(value: string): string {
    if (typeof value === 'string' && SECRET_NAME.test(value)) return value;
    if (this.onInvalid === 'not-found') throw Problem.notFound('Secret');
    throw Problem.validation([{ path: 'name', message: SECRET_NAME_MESSAGE }]);
  }
}
